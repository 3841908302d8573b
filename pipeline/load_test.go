package pipeline

import (
	"strings"
	"testing"

	"github.com/knit-cdp/knit/config"
)

// Blocked values and null tokens match whatever their case, including
// values longer than any listed one that lower to a listed one (the Kelvin
// sign, three bytes, lowers to a one-byte k), which the length shortcut of
// lowerIn must not skip.
func TestBlocklistAndNullTokensIgnoreCase(t *testing.T) {
	b, err := newBlocklist(config.Guards{BlockedValues: []string{" Walk-In@Store.Example ", "kk"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		raw     string
		blocked bool
	}{
		{"TEST@TEST.COM", true},
		{"Unknown", true},
		{"walk-in@store.example", true},
		{"WALK-IN@STORE.EXAMPLE", true},
		{"walk-in@store.example.com", false},
		{"Abigail.Vasquez@Example.Net", false},
		{strings.Repeat("A", 40), false},
	} {
		if got := b.blocked(tt.raw, strings.ToLower(tt.raw)+"#"); got != tt.blocked {
			t.Errorf("blocked(%q) = %v, want %v", tt.raw, got, tt.blocked)
		}
	}
	kelvin, err := newBlocklist(config.Guards{NoDefaults: true, BlockedValues: []string{"kkkk"}})
	if err != nil {
		t.Fatal(err)
	}
	if raw := strings.Repeat("\u212a", 4); !kelvin.blocked(raw, "x") {
		t.Errorf("blocked(%q) = false, want true (it lowers to kkkk)", raw)
	}
	for _, tt := range []struct {
		raw  string
		null bool
	}{
		{"NULL", true}, {"UnDefined", true}, {"#N/A", true}, {"NaN", true}, {"--", true},
		{"Undefined2", false}, {"Nullable", false}, {"nan1", false},
	} {
		if got := isNullLike(tt.raw); got != tt.null {
			t.Errorf("isNullLike(%q) = %v, want %v", tt.raw, got, tt.null)
		}
	}
}
