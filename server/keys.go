package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"

	"github.com/knit-cdp/knit"
)

// Hashed keys. A write key, read token or admin token may be configured as
// its SHA-256 instead of the secret itself: the environment variable that
// knit.yaml names holds "sha256:" and 64 hex digits (printf %s "$KEY" |
// sha256sum). The server then never holds the secret, and whoever reads
// its environment or secret store learns nothing that authenticates:
// presenting the hash itself is refused. A presented secret is hashed once
// per request and compared with every hashed key in constant time.

const hashedKeyPrefix = "sha256:"

// hashedKey returns the digest of a key configured as a hash.
func hashedKey(key string) ([]byte, bool) {
	h, ok := strings.CutPrefix(key, hashedKeyPrefix)
	if !ok {
		return nil, false
	}
	d, err := hex.DecodeString(h)
	return d, err == nil && len(d) == sha256.Size
}

// checkKeys refuses a key that starts like a hash but is not one: it
// would otherwise be compared as a plain secret and silently never match.
func checkKeys(sets ...map[string]string) error {
	for _, keys := range sets {
		for name, key := range keys {
			if _, ok := hashedKey(key); !ok && strings.HasPrefix(key, hashedKeyPrefix) {
				return knit.Errorf(knit.EINVALID, "the key in %s starts with %q but is not followed by 64 hex digits (a SHA-256: printf %%s \"$KEY\" | sha256sum)", name, hashedKeyPrefix)
			}
		}
	}
	return nil
}

// keyMatches compares a presented secret with a configured key, plain or
// hashed, in constant time. digest caches the secret's SHA-256 across the
// keys of one request.
func keyMatches(secret, key string, digest *[]byte) bool {
	if want, ok := hashedKey(key); ok {
		if *digest == nil {
			sum := sha256.Sum256([]byte(secret))
			*digest = sum[:]
		}
		return subtle.ConstantTimeCompare(*digest, want) == 1
	}
	return subtle.ConstantTimeCompare([]byte(secret), []byte(key)) == 1
}
