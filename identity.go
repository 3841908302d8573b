package knit

import "strings"

// Identifier is a typed identity value such as email:jane@example.com.
// Value is the standardised form used for matching.
type Identifier struct {
	Type  string
	Value string
}

func (id Identifier) String() string { return id.Type + ":" + id.Value }

// RecordKey names one record: a row of a source (profile sources) or a
// distinct visitor key (event sources). Its text form is source/pk.
type RecordKey struct {
	Source string
	PK     string
}

func (k RecordKey) String() string { return k.Source + "/" + k.PK }

// Key is what a user types to find a customer: an identifier (type:value),
// a record key (source/pk) or a customer ID.
type Key struct {
	Identifier *Identifier
	Record     *RecordKey
	CustomerID string
}

// ParseKey parses type:value, source/pk or a bare customer ID (a UUID).
// The identifier value is returned as typed; callers standardise it.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Key{}, Errorf(EINVALID, "empty key: give type:value (loyalty_id:707), source/pk (loyalty/707) or a customer ID")
	}
	if isUUID(s) {
		return Key{CustomerID: strings.ToLower(s)}, nil
	}
	colon := strings.IndexByte(s, ':')
	slash := strings.IndexByte(s, '/')
	switch {
	case colon > 0 && (slash < 0 || colon < slash):
		if colon == len(s)-1 {
			return Key{}, Errorf(EINVALID, "key %q has a type but no value: give type:value, such as loyalty_id:707", s)
		}
		return Key{Identifier: &Identifier{Type: s[:colon], Value: s[colon+1:]}}, nil
	case slash > 0 && slash < len(s)-1:
		return Key{Record: &RecordKey{Source: s[:slash], PK: s[slash+1:]}}, nil
	}
	return Key{}, Errorf(EINVALID, "key %q is not type:value (loyalty_id:707), source/pk (loyalty/707) or a customer ID", s)
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
