package pipeline_test

import (
	"testing"
)

// Rows sharing a primary key collapse into one record, whatever their
// order: the most recently updated wins, then on equal times and fill the
// greatest content; the duplicates are counted.
func TestDuplicateKeysCollapseInAnyOrder(t *testing.T) {
	dir := copyProject(t, coffee)
	appendFile(t, dir, "data/loyalty.csv", ""+
		"707,Jane,Doe,jane.doe@example.com,503-555-0100,Salem,2022-07-24 10:05:00\n"+ // newer: wins
		"707,Jane,Doe,jane.doe@example.com,503-555-0100,Eugene,2022-07-01 10:05:00\n"+ // older
		"708,Bob,Smith,bob.smith@example.com,(503) 555-0142,Zeta,2022-06-01 09:00:00\n") // tie on time and fill: greater content wins
	for seed := uint64(0); seed <= 2; seed++ {
		d := copyProject(t, dir)
		if seed > 0 {
			shuffleRows(t, d, "data/loyalty.csv", seed)
		}
		p, rep := mustRun(t, d)
		for _, s := range rep.Sources {
			if s.Name == "loyalty" && (s.Duplicates != 3 || s.Records != s.RowsLoaded-3) {
				t.Errorf("seed %d: loyalty %d duplicates, %d records of %d rows; want 3 and rows − 3", seed, s.Duplicates, s.Records, s.RowsLoaded)
			}
		}
		for key, want := range map[string]string{"loyalty/707": "Salem", "loyalty/708": "Zeta"} {
			n := p.count(`SELECT count(*) FROM field_lineage l JOIN records r ON r.customer_id = l.customer_id
				WHERE r.record_key = ? AND l.field = 'address.city' AND l.value = ?`, key, want)
			if n != 1 {
				t.Errorf("seed %d: %s's city is not %s", seed, key, want)
			}
		}
		if n := p.count(`SELECT count(*) FROM records WHERE record_key IN ('loyalty/707', 'loyalty/708')`); n != 2 {
			t.Errorf("seed %d: %d records for loyalty/707 and 708, want 2", seed, n)
		}
		p.close()
	}
}
