package knit_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Database drivers stay out of the core: only the adapter packages (and
// the CLI and tests that wire them) may depend on them. The test asks the
// go tool for each package's dependencies, so it fails the moment a core
// package gains a forbidden import, directly or through another package.
func TestDriversStayInAdapters(t *testing.T) {
	drivers := map[string]string{
		"github.com/duckdb/duckdb-go/v2": "github.com/knit-cdp/knit/duckdb",
		"github.com/jackc/pgx/v5":        "github.com/knit-cdp/knit/postgres",
	}
	// Packages that wire adapters in: the CLI and commands under bench/.
	wiring := func(pkg string) bool {
		return strings.HasPrefix(pkg, "github.com/knit-cdp/knit/cmd/") || strings.HasPrefix(pkg, "github.com/knit-cdp/knit/bench/")
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, deps := fields[0], fields[1:]
		checked++
		for _, d := range deps {
			for driver, adapter := range drivers {
				if (d == driver || strings.HasPrefix(d, driver+"/")) && pkg != adapter && !wiring(pkg) {
					t.Errorf("%s depends on the driver %s; only %s may", pkg, driver, adapter)
				}
			}
		}
	}
	if checked < 5 {
		t.Fatalf("go list returned %d packages; the test is not looking at the module", checked)
	}
}
