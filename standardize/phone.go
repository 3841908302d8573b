package standardize

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"

	knit "github.com/knit-cdp/knit"
)

// Phone returns a phone number in E.164 form ("+15035550100"), parsed by
// github.com/nyaruka/phonenumbers (a port of Google's libphonenumber) with
// region as the country of numbers written without "+country". A number the
// library cannot parse, or parses to an impossible length, falls back to its
// digits alone when it has at least seven (so "ext"-laden or odd local
// numbers still compare equal to themselves); with fewer, ok is false.
// Phone does not judge junk: "0000000000" becomes "+10000000000" and the
// guards' blocked-value list, standardised the same way, rejects it.
//
// North American numbers, the bulk of knit's data, skip the parser when
// their form is unambiguous (see nanpFast): the parser costs microseconds
// per value, and FuzzPhoneFastPath checks that both paths agree.
func Phone(s, region string) (string, bool) {
	s = strings.TrimSpace(s)
	if region == "" {
		region = "US"
	} else if region[0] >= 'a' {
		region = strings.ToUpper(region) // the parser's metadata is keyed upper-case
	}
	if e164, ok := nanpFast(s, region); ok {
		return e164, true
	}
	return phoneSlow(s, region)
}

// phoneSlow is Phone without the fast path.
func phoneSlow(s, region string) (string, bool) {
	if number, err := phonenumbers.Parse(s, region); err == nil && phonenumbers.IsPossibleNumber(number) {
		return phonenumbers.Format(number, phonenumbers.E164), true
	}
	digits, _ := Digits(s)
	if len(digits) >= 7 {
		return digits, true
	}
	return "", false
}

// nanpFast formats a North American number without the parser when s is
// only digits and the separators " -.()" with an optional leading "+", and
// the digits are "1" and ten digits with an area code starting 2-9 (with or
// without the "+"), or, for the US and Canada as default region, just the
// ten digits. Anything else (letters, extensions, other countries, area
// codes starting 0 or 1) goes to the parser.
func nanpFast(s, region string) (string, bool) {
	var digits [16]byte
	n := 0
	plus := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			if n == len(digits) {
				return "", false
			}
			digits[n] = c
			n++
		case c == '+' && i == 0:
			plus = true
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false
		}
	}
	switch {
	case n == 11 && digits[0] == '1' && digits[1] >= '2':
		if !plus && region != "US" && region != "CA" {
			return "", false // "1…" dialled from elsewhere means something else
		}
		if plus && len(s) == n+1 {
			return s, true // already E.164: no copy
		}
		return "+" + string(digits[:n]), true
	case n == 10 && !plus && digits[0] >= '2' && (region == "US" || region == "CA"):
		return "+1" + string(digits[:n]), true
	}
	return "", false
}

// phoneRegion validates and upper-cases a default phone region.
func phoneRegion(region string) (string, error) {
	region = strings.ToUpper(strings.TrimSpace(region))
	if region == "" {
		return "US", nil
	}
	if phonenumbers.GetCountryCodeForRegion(region) == 0 {
		return "", knit.Errorf(knit.EINVALID, "unknown phone region %q; use an ISO 3166 alpha-2 code such as US, GB or DE", region)
	}
	return region, nil
}

// PhoneCountryCode returns the calling code of a default phone region
// ("US" → "1", "GB" → "44"; empty means US), or "" for an unknown region.
// Search uses it to read a partly typed national number as international.
func PhoneCountryCode(region string) string {
	region, err := phoneRegion(region)
	if err != nil {
		return ""
	}
	return strconv.Itoa(phonenumbers.GetCountryCodeForRegion(region))
}
