package segment

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestNoDatabaseDriver keeps the rule language free of database drivers:
// it compiles SQL text, and only engine adapters may import a driver.
func TestNoDatabaseDriver(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/knit-cdp/knit/engine") {
		t.Fatalf("go list -deps did not list the engine package: %v", deps)
	}
	for _, pkg := range deps {
		for _, driver := range []string{"duckdb", "pgx", "lib/pq", "spark"} {
			if strings.Contains(pkg, driver) {
				t.Errorf("package segment depends on %s, a database driver or adapter", pkg)
			}
		}
	}
}
