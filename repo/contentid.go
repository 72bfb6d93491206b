package repo

import "coffer/cipher"

// ContentID is the ID a block with these plaintext bytes has in this
// repository: restore compares a file already on disk with a snapshot's
// block list without fetching a byte from the store.
func (r *Repository) ContentID(plain []byte) cipher.ID { return r.keys.BlockID(plain) }
