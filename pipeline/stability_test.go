package pipeline_test

import (
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shuffleRows shuffles a CSV's data rows in place (its header stays first).
func shuffleRows(t *testing.T, dir, name string, seed uint64) {
	t.Helper()
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	rows := lines[1:]
	rand.New(rand.NewPCG(seed, seed)).Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	writeFile(t, dir, name, lines[0]+"\n"+strings.Join(rows, "\n")+"\n")
}

// customerIDs maps every record key to its customer ID.
func (p *project) customerIDs() map[string]string {
	p.t.Helper()
	rows, err := p.db.SQL().Query(`SELECT record_key, COALESCE(customer_id, '') FROM records`)
	if err != nil {
		p.t.Fatal(err)
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, id string
		if err := rows.Scan(&k, &id); err != nil {
			p.t.Fatal(err)
		}
		m[k] = id
	}
	return m
}

func TestShuffledInputGivesIdenticalIDs(t *testing.T) {
	dir := copyProject(t, coffee)
	editConfig(t, dir, "include_all_records: [loyalty, ecommerce]", "include_all_records: [loyalty, ecommerce, web]")
	p, _ := mustRun(t, dir)
	want := p.customerIDs()
	p.close()
	for seed := uint64(1); seed <= 3; seed++ {
		shuffled := copyProject(t, dir)
		for _, f := range []string{"data/loyalty.csv", "data/ecommerce.csv", "data/web_events.csv", "data/pos.csv"} {
			shuffleRows(t, shuffled, f, seed)
		}
		q, _ := mustRun(t, shuffled)
		if got := q.customerIDs(); !maps.Equal(got, want) {
			t.Errorf("seed %d: shuffled rows changed customer IDs:\n got %v\nwant %v", seed, got, want)
		}
		q.close()
	}
}

// A record that bridges two profiles merges them under the older ID; a
// never-match override then splits them again and the anchor keeps it.
func TestBridgeKeepsOlderIDAndNeverMatchSplits(t *testing.T) {
	dir := copyProject(t, coffee)
	// Sam's account arrives one run after Ana's loyalty record.
	samRow := "A-1003,sam.lee@example.com,Sam,Lee,503-555-0199,2022-03-15 09:30:00\n"
	b, _ := os.ReadFile(filepath.Join(dir, "data/ecommerce.csv"))
	writeFile(t, dir, "data/ecommerce.csv", strings.Replace(string(b), samRow, "", 1))
	p, _ := mustRun(t, dir)
	ana := p.customer("loyalty/711")
	p.close()

	appendFile(t, dir, "data/ecommerce.csv", samRow)
	p, _ = mustRun(t, dir)
	sam := p.customer("ecommerce/A-1003")
	if sam == "" || sam == ana {
		t.Fatalf("Sam %q and Ana %q should be two customers", sam, ana)
	}
	p.close()

	// A CRM contact with Ana's email and Sam's phone bridges them (a CRM
	// carries no limited identifier, so no guard stops the merge).
	editConfig(t, dir, "\nidentifiers:\n", `  crm:
    file: data/crm.csv
    primary_key: ContactID
    identifiers: {Email: email, Phone: phone}

identifiers:
`)
	writeFile(t, dir, "data/crm.csv", "ContactID,Email,Phone\nC-1,ana.lopez@example.com,503-555-0199\n")
	p, rep := mustRun(t, dir)
	if got := p.customer("ecommerce/A-1003"); got != ana {
		t.Fatalf("after the bridge, Sam → %s, want Ana's older ID %s", got, ana)
	}
	if p.customer("crm/C-1") != ana {
		t.Fatal("the bridging record belongs to the merged customer")
	}
	if rep.IDs.Merged != 1 {
		t.Errorf("merged = %d, want 1", rep.IDs.Merged)
	}
	if got := p.customer(sam); got != ana {
		t.Errorf("Sam's old ID resolves to %q, want %s", got, ana)
	}
	p.close()

	writeFile(t, dir, "overrides/never_match.csv", "left,right\nloyalty/711,ecommerce/A-1003\n")
	p, rep = mustRun(t, dir)
	if got := p.customer("loyalty/711"); got != ana {
		t.Errorf("after the split the anchor loyalty/711 → %s, want it to keep %s", got, ana)
	}
	split := p.customer("ecommerce/A-1003")
	if split == "" || split == ana {
		t.Fatalf("never-match did not split: Sam → %q", split)
	}
	if rep.IDs.Split != 1 {
		t.Errorf("split = %d, want 1", rep.IDs.Split)
	}
	if n := p.count(`SELECT count(*) FROM links WHERE NOT accepted AND reason LIKE 'never-match%'`); n == 0 {
		t.Error("the refused link should be recorded with the never-match reason")
	}
}
