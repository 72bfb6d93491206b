package chunker

import "testing"

// goldenSeed is the seed of the golden vectors: bytes 0, 1, ..., 31.
func goldenSeed() [32]byte {
	var s [32]byte
	for i := range s {
		s[i] = byte(i)
	}
	return s
}

// TestGolden freezes the chunk format: the gear derivation, the masks, the
// normalization level and the Min/Max rules. If it fails, existing
// repositories would stop deduplicating against new writes; change the
// format version instead of the vectors.
func TestGolden(t *testing.T) {
	seed := goldenSeed()

	c := NewTable(seed, testParams).New()
	// The AES-256-CTR keystream under key 00..1f and a zero counter block,
	// as `openssl enc -aes-256-ctr -K 0001..1f -iv 00..00` prints it.
	if c.gear[0] != 0xd09f492ab60090f2 || c.gear[255] != 0x99e3f8f9b6c57b1c {
		t.Fatalf("gear table changed: gear[0]=%#x gear[255]=%#x", c.gear[0], c.gear[255])
	}

	for _, tc := range []struct {
		name string
		p    Params
		data []byte
		want []int
	}{
		{"test params", testParams, randBytes(512<<10, 42), []int{
			10923, 9849, 24440, 10160, 12012, 6115, 8574, 9619, 8520, 12439,
			8196, 8290, 6012, 13559, 9044, 3970, 9982, 11466, 9595, 8356,
			7820, 8778, 10874, 9722, 8283, 11709, 14442, 8524, 8849, 10600,
			9403, 8859, 5547, 7655, 8755, 9569, 11576, 7055, 9482, 10248,
			5429, 13970, 5790, 6562, 9047, 14003, 3822, 11373, 8078, 12122,
			11041, 8702, 10828, 11552, 3098,
		}},
		{"default params", DefaultParams(), randBytes(24<<20, 43), []int{
			1125592, 1610002, 626595, 1053260, 1338344, 1093490, 1249564,
			1049049, 1332240, 1114453, 1458056, 934356, 1487176, 1497633,
			1190101, 1138872, 1208976, 510930, 870183, 1927244, 1225265,
			124443,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := chunkLens(NewTable(seed, tc.p).New(), tc.data, whole(tc.data))
			if !equalInts(got, tc.want) {
				t.Fatalf("boundaries changed:\ngot  %v\nwant %v", got, tc.want)
			}
		})
	}
}
