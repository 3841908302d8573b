package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/knit-cdp/knit/postgres"
)

// postgresProject makes DIR-pg: the workload's knit.yaml with store set to
// storeURL (schema knit_bench_unify unless the URL names one) and every
// other entry of DIR symlinked. fresh drops the schema, so each run starts
// from an empty store as the DuckDB runs start from no file.
func postgresProject(dir, storeURL string) (string, func() error, error) {
	u, err := url.Parse(storeURL)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	if q.Get("schema") == "" {
		q.Set("schema", "knit_bench_unify")
		u.RawQuery = q.Encode()
	}
	schema := q.Get("schema")
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, err
	}
	pg := strings.TrimSuffix(abs, "/") + "-pg"
	if err := os.MkdirAll(pg, 0o755); err != nil {
		return "", nil, err
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return "", nil, err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == "knit.yaml":
			cfg, err := os.ReadFile(filepath.Join(abs, name))
			if err != nil {
				return "", nil, err
			}
			cfg = append([]byte("store: "+u.String()+"\n"), cfg...)
			if err := os.WriteFile(filepath.Join(pg, name), cfg, 0o644); err != nil {
				return "", nil, err
			}
		case strings.HasPrefix(name, "knit.duckdb"):
		default:
			link := filepath.Join(pg, name)
			os.Remove(link)
			if err := os.Symlink(filepath.Join(abs, name), link); err != nil {
				return "", nil, err
			}
		}
	}
	fresh := func() error {
		ctx := context.Background()
		db, err := postgres.Open(ctx, u.String(), "public")
		if err != nil {
			return err
		}
		defer db.Close()
		return db.Exec(ctx, "DROP SCHEMA IF EXISTS "+db.Dialect().Quote(schema)+" CASCADE")
	}
	return pg, fresh, nil
}
