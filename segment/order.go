package segment

import (
	"slices"
	"strings"

	"github.com/knit-cdp/knit"
)

// Dependencies returns the segments e refers to with "in segment", sorted
// and without repeats.
func Dependencies(e Expr) []string {
	var names []string
	eachCondition(e, func(x Expr) {
		if in, ok := x.(*InSegment); ok {
			names = append(names, in.Name)
		}
	})
	slices.Sort(names)
	return slices.Compact(names)
}

// Order returns the names of defs so that every segment comes after the
// segments it refers to. Segments and their references are visited in
// alphabetical order, so the order is the same on every run. A cycle is an
// error naming its segments in order ("a → b → a"). References to segments
// outside defs are left to Compile, which reports them at their position.
func Order(defs map[string]Expr) ([]string, error) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var order, path []string
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			start := slices.Index(path, name)
			cycle := append(slices.Clone(path[start:]), name)
			return knit.Errorf(knit.EINVALID, "segments refer to each other in a cycle: %s", strings.Join(cycle, " → "))
		}
		state[name] = visiting
		path = append(path, name)
		for _, dep := range Dependencies(defs[name]) {
			if _, ok := defs[dep]; !ok {
				continue
			}
			if err := visit(dep); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		state[name] = done
		order = append(order, name)
		return nil
	}
	for _, name := range keys(defs) {
		if err := visit(name); err != nil {
			return nil, err
		}
	}
	return order, nil
}
