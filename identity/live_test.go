package identity

import (
	"strings"
	"testing"
)

func TestLiveGuards(t *testing.T) {
	types := []TypeSpec{{Name: "user_id", Limit: 1}, {Name: "anonymous_id", Limit: 20}, {Name: "loyalty_id", Limit: 1}}
	l := NewLive(types)
	browser := l.Record(0, "web/Shared")
	anon := l.Ident(1, "Shared")
	alice, bob := l.Ident(0, "alice"), l.Ident(0, "bob")
	if r, _, _ := l.Union(browser, anon, HasIdentifier); r != "" {
		t.Fatalf("record and its anonymous ID: refused %q", r)
	}
	if r, _, _ := l.Union(browser, alice, CoOccurrence); r != "" {
		t.Fatalf("first sign-in refused: %q", r)
	}
	// The second user on the shared browser must not join Alice.
	r, _, _ := l.Union(anon, bob, CoOccurrence)
	if !strings.Contains(r, "limit") || l.Find(bob) == l.Find(alice) {
		t.Fatalf("second user on a shared browser: reason %q, merged %v", r, l.Find(bob) == l.Find(alice))
	}
	if got := len(l.Members(l.Find(alice))); got != 3 {
		t.Fatalf("Alice's cluster has %d members, want 3", got)
	}

	// Identifiers with one owner count once: a profile with two loyalty
	// IDs from a dedupe can still take an anonymous ID.
	l1, l2 := l.Ident(2, "1"), l.Ident(2, "2")
	l.SetOwner(l2, l1)
	if r, _, _ := l.Union(l1, l2, Dedupe); r != "" {
		t.Fatal(r)
	}
	if r, _, _ := l.Union(l1, l.Ident(1, "device9"), CoOccurrence); r != "" {
		t.Fatalf("owned loyalty IDs blocked an anonymous ID: %q", r)
	}
	if r, _, _ := l.Union(l1, l.Ident(2, "3"), CoOccurrence); r == "" {
		t.Fatal("a third loyalty ID was accepted")
	}

	// Generic values link nothing; never-match pairs stay apart even forced.
	store := l.Ident(2, "9999")
	l.MarkGeneric(store, "generic value: loyalty_id:9999")
	if r, _, _ := l.Union(store, l.Ident(1, "walkin"), CoOccurrence); !strings.HasPrefix(r, "generic") {
		t.Fatalf("generic value linked: %q", r)
	}
	a, b := l.Record(0, "crm/a"), l.Record(0, "crm/b")
	l.Never(a, b)
	if r, _, _ := l.Union(a, b, AlwaysMatch); !strings.HasPrefix(r, "never-match") {
		t.Fatalf("never-match pair joined: %q", r)
	}
}
