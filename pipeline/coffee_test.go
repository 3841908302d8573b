package pipeline_test

import (
	"runtime"
	"slices"
	"testing"
)

const coffee = "../examples/coffee"

// The coffee-chain scenario of DESIGN.md, with include-all-records off for
// web data: only known profiles exist, and Auth234's profile carries its
// web identity.
func TestCoffeeKnownOnly(t *testing.T) {
	dir := copyProject(t, coffee)
	p, rep := mustRun(t, dir)
	if rep.Profiles.Unknown != 0 {
		t.Errorf("unknown profiles = %d, want 0 with include_all_records off for web", rep.Profiles.Unknown)
	}
	// Every stage reports its CPU time (of the whole process, so it can
	// exceed the stage's wall time when threads run in parallel).
	var cpu float64
	for _, s := range rep.Stages {
		if s.CPUSeconds < 0 {
			t.Errorf("stage %s: %v CPU seconds", s.Name, s.CPUSeconds)
		}
		cpu += s.CPUSeconds
	}
	if runtime.GOOS == "linux" && cpu <= 0 {
		t.Errorf("the stages report %v CPU seconds in all", cpu)
	}
	jane := p.profile("loyalty_id:707")
	if !jane.Known {
		t.Error("loyalty 707 should be known")
	}
	for _, want := range []string{"anonymous_id:Auth234", "loyalty_id:707", "email:jane.doe@example.com", "user_id:A-1001", "phone:+15035550100"} {
		if !hasIdent(jane, want) {
			t.Errorf("707's keyring lacks %s: %+v", want, jane.Identifiers)
		}
	}
	for _, want := range []string{"loyalty/707", "ecommerce/A-1001", "web/Auth234", "pos/707"} {
		if !hasRecord(jane, want) {
			t.Errorf("707's profile lacks record %s", want)
		}
	}
	if got := p.customer("anonymous_id:Auth234"); got != jane.CustomerID {
		t.Errorf("anonymous_id:Auth234 → %q, want %s", got, jane.CustomerID)
	}
	for _, key := range []string{"anonymous_id:Unknown1", "anonymous_id:Unkonwn5"} {
		if got := p.customer(key); got != "" {
			t.Errorf("%s has profile %s; with include_all_records off for web it must have none", key, got)
		}
	}
	// Bob re-enrolled with the same email: one customer, the newer row wins.
	bob := p.profile("loyalty/708")
	if p.customer("loyalty/710") != bob.CustomerID {
		t.Error("loyalty 708 and 710 share an email and should be one customer")
	}
	// Both of Bob's loyalty IDs stay on his profile although a profile holds
	// at most one: the dedupe group's IDs count once against the limit.
	for _, key := range []string{"loyalty_id:708", "loyalty_id:710"} {
		if got := p.customer(key); got != bob.CustomerID {
			t.Errorf("%s → %q, want Bob's %s", key, got, bob.CustomerID)
		}
	}
	if n := p.count(`SELECT count(*) FROM links WHERE NOT accepted AND reason LIKE 'limit:%'`); n != 0 {
		t.Errorf("%d links refused by a limit on the example; a dedupe group's IDs must count once", n)
	}
	for _, f := range bob.Fields {
		if f.Name == "person.first_name" && (f.Value != "Robert" || f.Record != "loyalty/710") {
			t.Errorf("first name = %q from %s, want Robert from loyalty/710 (most recent)", f.Value, f.Record)
		}
		if f.Name == "address.city" && f.Value != "Portland" {
			t.Errorf("city = %q, want Portland (the only non-null value)", f.Value)
		}
	}
	// Maria's accented e-commerce name does not stop the email match.
	if p.customer("ecommerce/A-1002") != p.customer("loyalty/709") {
		t.Error("ecommerce A-1002 and loyalty 709 share an email")
	}
}

// With include-all-records on for web, the unknown visitors get profiles
// of their own; when Unknown1 later signs in, a rerun merges it into the
// known profile, which keeps its ID and lists the unknown one as previous.
func TestCoffeeUnknownVisitorSignsIn(t *testing.T) {
	dir := copyProject(t, coffee)
	editConfig(t, dir, "include_all_records: [loyalty, ecommerce]", "include_all_records: [loyalty, ecommerce, web]")
	p, rep := mustRun(t, dir)
	if rep.Profiles.Unknown != 2 {
		t.Errorf("unknown profiles = %d, want 2 (Unknown1 and Unkonwn5)", rep.Profiles.Unknown)
	}
	unknown1 := p.profile("anonymous_id:Unknown1")
	if unknown1.Known {
		t.Error("Unknown1 should be an unknown profile")
	}
	jane := p.customer("loyalty_id:707")
	if unknown1.CustomerID == jane || p.customer("anonymous_id:Unkonwn5") == jane {
		t.Fatal("unknown visitors must not be merged with 707 before they sign in")
	}
	p.close()

	appendFile(t, dir, "data/web_events.csv", "5,07-23-2022 10:30:00,Unknown1,707,Loyalty sign-in\n")
	p, rep = mustRun(t, dir)
	merged := p.profile("anonymous_id:Unknown1")
	if merged.CustomerID != jane {
		t.Fatalf("after signing in, Unknown1 → %s, want 707's customer %s", merged.CustomerID, jane)
	}
	if !merged.Known {
		t.Error("the merged profile is known")
	}
	var prev []string
	for _, id := range merged.PreviousIDs {
		prev = append(prev, id.ID)
	}
	if !slices.Contains(prev, unknown1.CustomerID) {
		t.Errorf("previous IDs %v should list the unknown profile's ID %s", prev, unknown1.CustomerID)
	}
	// The old ID still resolves, to the merged customer.
	if got := p.customer(unknown1.CustomerID); got != jane {
		t.Errorf("old ID resolves to %q, want %s", got, jane)
	}
	if rep.IDs.Merged != 1 {
		t.Errorf("report merged = %d, want 1", rep.IDs.Merged)
	}
	if p.customer("anonymous_id:Unkonwn5") == jane {
		t.Error("Unkonwn5 never signed in")
	}
}
