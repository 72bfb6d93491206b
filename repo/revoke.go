package repo

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"coffer/cipher"
	"coffer/objectstore"
)

// revocationsPrefix holds the sealed revocations of key slots. It is part
// of the format.
const revocationsPrefix = "revocations/"

// Errors of key slot revocation.
var (
	// ErrRevoked: the only key slots the secret opens are revoked. It is
	// an ErrWrongKey, so callers that test for a wrong key see it too.
	ErrRevoked = fmt.Errorf("%w: the key slot it opens has been revoked", ErrWrongKey)
	// ErrAlreadyRevoked: RevokeSlot was asked for a slot a revocation
	// already revokes; nothing was written.
	ErrAlreadyRevoked = errors.New("key slot is already revoked")
)

// revocationBody is the plaintext of a revocation object.
type revocationBody struct {
	// Slot is the hex SHA-256 of the revoked slot object's bytes: the
	// revocation names what was revoked, not where it was stored.
	Slot string `json:"slot"`
	// Name is the slot's object name when it was revoked (informational).
	Name string `json:"name"`
	// Created is the revoking client's clock (informational); judgements
	// use the store's upload time.
	Created time.Time `json:"created"`
}

// revocation is one revocation object read and authenticated.
type revocation struct {
	key      string
	modified time.Time // the store's upload time of the object
	slot     [32]byte  // SHA-256 of the revoked slot's bytes
	name     string
}

// listRevocations lists the revocation objects.
func listRevocations(ctx context.Context, st objectstore.Store) ([]objectstore.Info, error) {
	var out []objectstore.Info
	err := st.List(ctx, revocationsPrefix, func(i objectstore.Info) error {
		out = append(out, i)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list key slot revocations: %w", err)
	}
	return out, nil
}

// readRevocations reads and authenticates the listed revocation objects.
// One that is damaged or not coffer's is skipped and named in skipped; a
// store that fails is an error, so a revocation is never lost to an
// outage.
func readRevocations(ctx context.Context, st objectstore.Store, keys *cipher.Keys, repoID []byte, listed []objectstore.Info) (revs []revocation, skipped []Damage, err error) {
	for _, i := range listed {
		data, err := st.Get(ctx, i.Key)
		if err != nil && !isDamage(err) {
			return nil, nil, fmt.Errorf("read key slot revocation %s: %w", i.Key, err)
		}
		var rv revocation
		if err == nil {
			var plain []byte
			plain, err = keys.Metadata().Open(nil, data, objectAD(repoID, "revocation", i.Key))
			if err == nil {
				rv, err = parseRevocation(plain)
			}
		}
		if err != nil {
			skipped = append(skipped, Damage{Key: i.Key, Reason: "key slot revocation unreadable, skipped: " + err.Error()})
			continue
		}
		rv.key, rv.modified = i.Key, i.Modified
		revs = append(revs, rv)
	}
	return revs, skipped, nil
}

// parseRevocation decodes a revocation's plaintext; only its slot hash
// is required.
func parseRevocation(plain []byte) (revocation, error) {
	var body revocationBody
	if err := json.Unmarshal(plain, &body); err != nil {
		return revocation{}, fmt.Errorf("%w: revocation: %v", ErrCorrupt, err)
	}
	sum, err := hex.DecodeString(body.Slot)
	if err != nil || len(sum) != 32 {
		return revocation{}, fmt.Errorf("%w: revocation: bad slot hash", ErrCorrupt)
	}
	rv := revocation{name: body.Name}
	copy(rv.slot[:], sum)
	return rv, nil
}

// judgement says which slots the revocations revoke.
type judgement struct {
	revoked    map[string]bool // slot IDs revoked by an honoured revocation
	unhonoured map[string]bool // slot IDs named only by revocations not honoured
	notes      []Damage        // one per revocation not honoured, or unreadable
	unreadable int             // the first unreadable notes are the unreadable revocations
}

// judge applies the revocations to the slots. Revocations are taken in
// the order the store received them; each revokes every slot whose bytes
// it names (a copy under another name too), unless, among the slots the
// store held when it arrived, no slot would be left usable: then it is
// not honoured, now or later, and noted. So revocations, which anyone
// holding the key can seal, can never leave the repository without a
// slot, and adding a slot later does not wake one up.
func judge(slots []loadedSlot, revs []revocation) judgement {
	j := judgement{revoked: map[string]bool{}, unhonoured: map[string]bool{}}
	revs = slices.Clone(revs)
	slices.SortFunc(revs, func(a, b revocation) int {
		return cmp.Or(a.modified.Compare(b.modified), cmp.Compare(a.key, b.key))
	})
	for _, rv := range revs {
		var hits []string
		left := 0
		for _, s := range slots {
			switch {
			case j.revoked[s.id]:
			case s.sum == rv.slot:
				hits = append(hits, s.id)
			case !s.modified.After(rv.modified):
				left++
			}
		}
		if len(hits) == 0 {
			continue // already revoked, or the slot is gone
		}
		if left == 0 {
			for _, id := range hits {
				j.unhonoured[id] = true
			}
			j.notes = append(j.notes, Damage{Key: rv.key,
				Reason: fmt.Sprintf("revocation of key slot %s not honoured: it would have left no usable key slot", hits[0])})
			continue
		}
		for _, id := range hits {
			j.revoked[id] = true
			delete(j.unhonoured, id)
		}
	}
	return j
}

// slotsJudged reads the slots and revocations and judges them.
func (r *Repository) slotsJudged(ctx context.Context) ([]loadedSlot, judgement, error) {
	slots, err := listSlots(ctx, r.store)
	if err != nil {
		return nil, judgement{}, err
	}
	j, err := judgeStored(ctx, r.store, r.keys, r.id, slots)
	return slots, j, err
}

// judgeStored reads the store's revocations and judges them against slots.
func judgeStored(ctx context.Context, st objectstore.Store, keys *cipher.Keys, repoID []byte, slots []loadedSlot) (judgement, error) {
	listed, err := listRevocations(ctx, st)
	if err != nil {
		return judgement{}, err
	}
	revs, skipped, err := readRevocations(ctx, st, keys, repoID, listed)
	if err != nil {
		return judgement{}, err
	}
	j := judge(slots, revs)
	j.notes = append(skipped, j.notes...)
	j.unreadable = len(skipped)
	return j, nil
}

// RevokeSlot writes a sealed, locked revocation of key slot id, so its
// passphrase or key file no longer opens the repository through coffer.
// The slot object itself stays (it is locked; prune removes it after the
// deletion delay). Unless force, it refuses, writing nothing, the last
// usable slot (ErrLastSlot) and the slot this repository was opened with
// (ErrSlotInUse). A slot already revoked is ErrAlreadyRevoked. honoured
// is false when the revocation, forced, would leave no usable slot: it is
// then recorded but not honoured, now or later.
func (r *Repository) RevokeSlot(ctx context.Context, id string, force bool) (honoured bool, err error) {
	slots, j, err := r.slotsJudged(ctx)
	if err != nil {
		return false, err
	}
	i := slices.IndexFunc(slots, func(s loadedSlot) bool { return s.id == id })
	if i < 0 {
		return false, fmt.Errorf("key slot %q: %w", id, objectstore.ErrNotFound)
	}
	target := slots[i]
	if j.revoked[id] {
		return false, fmt.Errorf("%w: %s", ErrAlreadyRevoked, id)
	}
	left := 0
	for _, s := range slots {
		if !j.revoked[s.id] && s.sum != target.sum {
			left++
		}
	}
	switch {
	case force:
	case left == 0:
		return false, fmt.Errorf("%w, %s", ErrLastSlot, id)
	case id == r.slotID:
		return false, fmt.Errorf("%w, %s", ErrSlotInUse, id)
	}
	plain, err := json.Marshal(revocationBody{
		Slot: hex.EncodeToString(target.sum[:]), Name: id, Created: r.opts.Clock().UTC(),
	})
	if err != nil {
		return false, err
	}
	_, err = r.putPatiently(ctx, func() (string, []byte, error) {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", nil, err
		}
		key := revocationsPrefix + hex.EncodeToString(b[:])
		return key, r.keys.Metadata().Seal(nil, plain, objectAD(r.id, "revocation", key)), nil
	})
	if err != nil {
		return false, fmt.Errorf("write the revocation of key slot %s: %w", id, err)
	}
	return left > 0, nil
}

// KeyObjects names the store objects that keep the repository openable:
// the key slots no honoured revocation revokes, and every revocation
// (so a revocation outlives the slot it names). Retention extension keeps
// them locked; revoked slots are left to lapse and to prune.
func (r *Repository) KeyObjects(ctx context.Context) (slots, revocations []string, err error) {
	loaded, j, err := r.slotsJudged(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range loaded {
		if !j.revoked[s.id] {
			slots = append(slots, keysPrefix+s.id)
		}
	}
	listed, err := listRevocations(ctx, r.store)
	if err != nil {
		return nil, nil, err
	}
	for _, i := range listed {
		revocations = append(revocations, i.Key)
	}
	return slots, revocations, nil
}
