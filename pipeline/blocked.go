package pipeline

import "github.com/knit-cdp/knit/config"

// Blocklist returns the junk-value check a run applies to identifiers
// (raw and standardised value), so that knit serve's live stitching
// refuses exactly the values a batch run refuses.
func Blocklist(g config.Guards) (func(raw, std string) bool, error) {
	b, err := newBlocklist(g)
	if err != nil {
		return nil, err
	}
	return b.blocked, nil
}
