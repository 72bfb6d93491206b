// Package local is the objectstore backend on a local directory, coffer's
// embedded default.
//
// Layout under the directory:
//
//	<key>@obj   the object: a 64-byte header (magic, retention as put,
//	            CRC-32C of the data) followed by the data; mode 0444
//	<key>@ret   retention sidecar (JSON), written only by ExtendRetention
//	@tmp/       files being written
//	@lock       lock file serialising Delete and ExtendRetention
//
// Both are created by the first Put, never by opening or reading.
//
// Keys never contain '@' (see objectstore.CheckKey), so these names can
// never collide with a key or with the directories its slashes create, and
// "a" and "a/b" can both be keys. A Put is one link(2) of a fully written
// and fsynced file, so it is atomic, and link's refusal to replace an
// existing name means two Puts of one key, even from different processes,
// can never overwrite each other. The object's effective retention is the
// later of its header's and its sidecar's. Get verifies the CRC-32C.
package local
