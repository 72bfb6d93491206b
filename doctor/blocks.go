package doctor

import "fmt"

// PromiseNoForgedBlocks: every place the indexes name for a block holds
// that block's own contents. coffer stores a block once, so a block named
// at several places is rare, and a copy forged by a holder of the key
// (sealed right, contents not the block's) is one of them.
const PromiseNoForgedBlocks = "every stored copy of a block holds its own contents"

// BlockCheck is the verdict on the copies of blocks the indexes name more
// than once: checked is how many were read, forged names those whose
// contents are not the block's, and err is a store failure that stopped
// the check.
func BlockCheck(checked int, forged []string, err error) Result {
	res := Result{Promise: PromiseNoForgedBlocks, Items: forged}
	switch {
	case err != nil:
		res.Status = Broken
		res.Detail = fmt.Sprintf("the check stopped after %d copies: %v", checked, err)
		res.Fix = "check that the store is reachable and run doctor again"
	case len(forged) > 0:
		res.Status = Broken
		res.Detail = fmt.Sprintf("%d of %d copies read are forged: they authenticate under the key but are not the block's", len(forged), checked)
		res.Fix = "reads skip them and use the real copy; someone holds the key: make a new key and repository, and look at the audit log for who added them"
	default:
		res.Status = Holds
		res.Detail = fmt.Sprintf("%d copies of blocks named more than once checked", checked)
	}
	return res
}
