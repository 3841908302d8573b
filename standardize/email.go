package standardize

import "strings"

// Email returns the canonical form of an e-mail address, or ok=false for a
// value that is not one (no @, several @, no dotted domain, spaces inside).
//
// Steps: trim; drop a "mailto:" prefix; lower-case the whole address (local
// parts are case-sensitive in theory, but no mainstream provider treats them
// so, and customers type them every which way); googlemail.com → gmail.com;
// then drop the sub-address ("+tag") from the local part at every domain,
// because jane+news@example.com is delivered to jane@example.com by Gmail,
// Outlook, iCloud, Fastmail, Proton and most self-hosted servers, and a
// customer uses tags to file mail, not to be someone else. Dots in the local
// part are dropped only at gmail.com: Gmail ignores them, but at other
// domains jane.doe and janedoe can be different mailboxes.
func Email(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 7 && strings.EqualFold(s[:7], "mailto:") {
		s = strings.TrimSpace(s[7:])
	}
	s = strings.ToLower(s)
	at := strings.IndexByte(s, '@')
	if at <= 0 || strings.IndexByte(s[at+1:], '@') >= 0 || strings.ContainsAny(s, " \t\r\n,;<>") {
		return "", false
	}
	local, domain := s[:at], s[at+1:]
	if !validDomain(domain) {
		return "", false
	}
	if domain == "googlemail.com" {
		domain = "gmail.com"
	}
	if plus := strings.IndexByte(local, '+'); plus >= 0 {
		local = local[:plus]
	}
	if domain == "gmail.com" {
		local = strings.ReplaceAll(local, ".", "")
	}
	if local == "" {
		return "", false
	}
	return local + "@" + domain, true
}

// validDomain accepts a dotted host name whose labels are non-empty, which
// is enough to reject junk ("n/a@", "jane@localhost", "jane@example.")
// without second-guessing new top-level domains.
func validDomain(domain string) bool {
	if !strings.Contains(domain, ".") {
		return false
	}
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
	}
	return true
}
