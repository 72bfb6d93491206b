// Package bytesize renders byte counts for people, in IEC units (KiB,
// MiB, ...) with one decimal: the one way listings and reports print
// sizes.
package bytesize

import "fmt"

// IEC renders n as "512 B", "1.5 KiB", "3.2 GiB".
func IEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
