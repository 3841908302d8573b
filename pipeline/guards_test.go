package pipeline_test

import "testing"

// A shared household device on which two signed-in people browse must not
// merge them: each holds a different loyalty ID, and a profile holds at
// most one.
func TestSharedDeviceDoesNotMergeTwoPeople(t *testing.T) {
	dir := copyProject(t, coffee)
	appendFile(t, dir, "data/web_events.csv",
		"10,07-24-2022 09:00:00,family-ipad,707,Loyalty sign-in\n"+
			"11,07-24-2022 19:00:00,family-ipad,711,Loyalty sign-in\n")
	p, _ := mustRun(t, dir)
	jane, ana := p.customer("loyalty_id:707"), p.customer("loyalty_id:711")
	if jane == "" || ana == "" || jane == ana {
		t.Fatalf("707 (%s) and 711 (%s) must stay two customers", jane, ana)
	}
	// The device goes with the first sign-in; the second link is refused
	// with the limit as its reason.
	if got := p.customer("anonymous_id:family-ipad"); got != jane {
		t.Errorf("the device belongs to %q, want the first signer %s", got, jane)
	}
	if n := p.count(`SELECT count(*) FROM links WHERE NOT accepted AND reason LIKE 'limit:%loyalty_id%' AND (a = 'loyalty_id:711' OR b = 'loyalty_id:711')`); n != 1 {
		t.Errorf("refused limit links for 711 = %d, want 1", n)
	}
}

// The stores' walk-in card is generic: seen with many receipt emails, it
// links nobody, and it is reported.
func TestStoreCardIsGeneric(t *testing.T) {
	dir := copyProject(t, coffee)
	p, rep := mustRun(t, dir)
	if p.customer("loyalty_id:9999") != "" {
		t.Error("the walk-in card must belong to no profile")
	}
	if n := p.count(`SELECT count(*) FROM generic_values WHERE type = 'loyalty_id' AND value = '9999'`); n != 1 {
		t.Errorf("generic_values has %d rows for 9999, want 1", n)
	}
	if len(rep.Generic) != 1 || rep.Generic[0].Distinct != 4 {
		t.Errorf("report generic = %+v, want 9999 seen with 4 emails", rep.Generic)
	}
	// Walk-ins who shared the card are not one customer.
	if n := p.count(`SELECT count(DISTINCT customer_id) FROM identifiers WHERE value LIKE 'walkin%' AND customer_id IS NOT NULL`); n != 0 {
		t.Errorf("walk-in emails joined %d profiles through the generic card", n)
	}
}

// Junk values — placeholder emails, zero phones, N/A — link nothing.
func TestJunkValuesLinkNothing(t *testing.T) {
	dir := copyProject(t, coffee)
	appendFile(t, dir, "data/ecommerce.csv",
		"A-1005,test@test.com,Other,Person,0000000000,2022-02-01 00:00:00\n"+
			"A-1006,N/A,Third,Person,N/A,2022-02-02 00:00:00\n"+
			"A-1007,null,Fourth,Person,555-555-5555,2022-02-03 00:00:00\n")
	p, rep := mustRun(t, dir)
	ids := map[string]bool{}
	for _, k := range []string{"ecommerce/A-1004", "ecommerce/A-1005", "ecommerce/A-1006", "ecommerce/A-1007"} {
		id := p.customer(k)
		if id == "" || ids[id] {
			t.Errorf("%s → %q: each junk account must be a profile of its own", k, id)
		}
		ids[id] = true
	}
	// test@test.com and 0000000000 twice, 555-555-5555 once; N/A and null
	// are nulls, not junk, and are not reported as refusals.
	if got := rep.Refused["blocked value"]; got != 5 {
		t.Errorf("blocked values refused = %d, want 5", got)
	}
	if n := p.count(`SELECT count(*) FROM links WHERE b LIKE '%N/A' OR b LIKE '%:null'`); n != 0 {
		t.Errorf("null-like values were recorded as %d refused links", n)
	}
}
