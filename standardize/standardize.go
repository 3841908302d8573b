// Package standardize turns raw identifier and attribute values into the
// canonical forms knit compares: one standardiser per kind of value (email,
// phone, free text, digits, person names, addresses, organisations), plus
// user-supplied alias and bypass lists. Standardisers never change stored
// source values; the pipeline keeps the raw value next to the standardised
// one. Every standardiser is a pure function, safe for concurrent use.
package standardize

import (
	"strings"
	"unicode"

	knit "github.com/knit-cdp/knit"
)

// Func standardises one raw value; ok=false means the value is empty after
// standardising (treat as null).
type Func func(raw string) (value string, ok bool)

// Kinds lists the standardiser kinds For accepts, in documentation order.
var Kinds = []string{"email", "phone", "text", "digits", "exact", "name", "address", "organization"}

// For returns the standardiser for a kind: "email", "phone", "text",
// "digits", "exact", "name", "address", "organization". An empty kind means
// "text", the default of the configuration. region is the default phone
// region (ISO 3166 alpha-2, "US") for numbers written without a country
// code; it is used only by "phone" and defaults to "US" when empty.
func For(kind, region string) (Func, error) {
	switch strings.ToLower(strings.TrimSpace(kind)) {
	case "email":
		return Email, nil
	case "phone":
		region, err := phoneRegion(region)
		if err != nil {
			return nil, err
		}
		return func(raw string) (string, bool) { return Phone(raw, region) }, nil
	case "text", "":
		return Text, nil
	case "digits":
		return Digits, nil
	case "exact":
		return Exact, nil
	case "name":
		return Name, nil
	case "address":
		return Address, nil
	case "organization", "organisation":
		return Organization, nil
	}
	return nil, knit.Errorf(knit.EINVALID, "unknown standardiser %q; use one of %s", kind, strings.Join(Kinds, ", "))
}

// Digits keeps only the decimal digits of s (of any script, written as
// 0-9): loyalty numbers, account numbers and the like, where spaces and
// dashes are formatting. ok is false when s holds no digit.
func Digits(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if '0' <= r && r <= '9' {
			b.WriteByte(byte(r))
		} else if r >= 0x80 && unicode.Is(unicode.Nd, r) {
			b.WriteByte(byte('0' + decimalValue(r)))
		}
	}
	return b.String(), b.Len() > 0
}

// Exact only trims surrounding white space: for identifiers whose case and
// punctuation are significant (opaque IDs, hashes). ok is false when
// nothing is left.
func Exact(s string) (string, bool) {
	s = strings.TrimSpace(s)
	return s, s != ""
}
