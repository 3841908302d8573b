package identity

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// Namespace is the UUID namespace of knit customer IDs. A new profile's ID
// is derived from its anchor record's key, so the same inputs give the same
// IDs on any machine, in any row order.
var Namespace = uuid.MustParse("6f1d3c1e-7b0a-4d55-9a57-2f0c8f6b6a11")

// IDInfo is what knit remembers about every customer ID it ever issued.
type IDInfo struct {
	Created    int64  // run that issued it; the oldest ID wins a merge
	Anchor     string // record key it was issued for: a split leaves the ID with this record
	Status     string // active, merged, retired
	MergedInto string // for merged IDs: the ID that absorbed it
	Changed    int64  // run of the last status change
}

// Cluster is one profile-to-be: its record keys, the anchor candidate first
// (the caller orders them by source precedence, then key).
type Cluster struct {
	Records []string
}

// IDEvent records a merge or a split of customer IDs in one run.
type IDEvent struct {
	Event string // merged or split
	From  string // the ID that went away (merged) or was split (split)
	To    string // the ID that absorbed it (merged) or the new ID of the split-off part (split)
}

// Assignment is the outcome of AssignIDs.
type Assignment struct {
	IDs    []string // per cluster
	Events []IDEvent
	// Registry is every ID ever issued, updated by this run.
	Registry map[string]IDInfo
}

// AssignIDs gives every cluster a customer ID, keeping IDs stable across
// runs: a cluster holding records of one previous profile keeps its ID; a
// merge keeps the oldest ID and records the others as merged into it; a
// split keeps the ID on the part holding its anchor record and gives the
// other parts new IDs. prevRecord maps record keys to last run's IDs.
// The registry is updated in place and returned as Assignment.Registry: at
// a million customers a copy would cost hundreds of megabytes.
func AssignIDs(clusters []Cluster, prevRecord map[string]string, registry map[string]IDInfo, run int64) *Assignment {
	reg := registry
	// Which clusters hold records of each previous ID, and how many.
	claims := map[string]map[int]int{}
	for c, cl := range clusters {
		for _, rec := range cl.Records {
			if p, ok := prevRecord[rec]; ok {
				if claims[p] == nil {
					claims[p] = map[int]int{}
				}
				claims[p][c]++
			}
		}
	}
	prevIDs := make([]string, 0, len(claims))
	for p := range claims {
		prevIDs = append(prevIDs, p)
	}
	slices.Sort(prevIDs)

	owned := make([][]string, len(clusters))
	var events []IDEvent
	splitFrom := map[int]string{}
	for _, p := range prevIDs {
		owner := ownerOf(p, claims[p], reg[p].Anchor, clusters)
		owned[owner] = append(owned[owner], p)
		for c := range claims[p] {
			if c != owner {
				if _, seen := splitFrom[c]; !seen || p < splitFrom[c] {
					splitFrom[c] = p
				}
			}
		}
	}

	a := &Assignment{IDs: make([]string, len(clusters)), Registry: reg}
	used := make(map[string]bool, len(clusters))
	for c, ids := range owned {
		if len(ids) == 0 {
			continue
		}
		slices.SortFunc(ids, func(x, y string) int {
			if c := cmp.Compare(reg[x].Created, reg[y].Created); c != 0 {
				return c
			}
			return cmp.Compare(x, y)
		})
		keep := ids[0]
		a.IDs[c] = keep
		used[keep] = true
		info := reg[keep]
		info.Status, info.MergedInto = "active", ""
		reg[keep] = info
		for _, gone := range ids[1:] {
			info := reg[gone]
			info.Status, info.MergedInto, info.Changed = "merged", keep, run
			reg[gone] = info
			events = append(events, IDEvent{Event: "merged", From: gone, To: keep})
		}
	}
	for c, cl := range clusters {
		if a.IDs[c] != "" {
			continue
		}
		id := newID(cl.Records[0], reg, used)
		a.IDs[c] = id
		used[id] = true
		reg[id] = IDInfo{Created: run, Anchor: cl.Records[0], Status: "active", Changed: run}
		if from, ok := splitFrom[c]; ok {
			events = append(events, IDEvent{Event: "split", From: from, To: id})
		}
	}
	// IDs whose records all left every profile are retired, not reused.
	for id, info := range reg {
		if info.Status == "active" && !used[id] {
			info.Status, info.Changed = "retired", run
			reg[id] = info
		}
	}
	// Point merged IDs straight at the ID that now holds their customer.
	for id, info := range reg {
		if info.Status != "merged" {
			continue
		}
		final := info.MergedInto
		for hops := 0; hops < 64 && reg[final].Status == "merged"; hops++ {
			final = reg[final].MergedInto
		}
		info.MergedInto = final
		reg[id] = info
	}
	slices.SortFunc(events, func(x, y IDEvent) int {
		return cmp.Or(cmp.Compare(x.Event, y.Event), cmp.Compare(x.From, y.From), cmp.Compare(x.To, y.To))
	})
	a.Events = events
	return a
}

// ownerOf picks the cluster that keeps previous ID p: the one with p's
// anchor record, else the one with most of p's records, else the first.
func ownerOf(p string, claim map[int]int, anchor string, clusters []Cluster) int {
	cs := make([]int, 0, len(claim))
	for c := range claim {
		cs = append(cs, c)
	}
	slices.Sort(cs)
	if len(cs) == 1 {
		return cs[0]
	}
	for _, c := range cs {
		if slices.Contains(clusters[c].Records, anchor) {
			return c
		}
	}
	best := cs[0]
	for _, c := range cs[1:] {
		if claim[c] > claim[best] {
			best = c
		}
	}
	return best
}

func newID(anchor string, reg map[string]IDInfo, used map[string]bool) string {
	id := uuid.NewSHA1(Namespace, []byte(anchor)).String()
	for n := 1; used[id] || reg[id].Anchor != "" && reg[id].Anchor != anchor || reg[id].Status == "merged"; n++ {
		id = uuid.NewSHA1(Namespace, []byte(fmt.Sprintf("%s#%d", anchor, n))).String()
	}
	return id
}
