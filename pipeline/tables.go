package pipeline

import (
	"context"

	"github.com/knit-cdp/knit"
	"github.com/knit-cdp/knit/config"
	"github.com/knit-cdp/knit/source"
)

// openSource opens a source's rows: its files, or its database table
// through a source.TableOpener — the engine when it reads tables itself
// (the PostgreSQL engine reads its own database, and others by url), else
// Options.Tables. The pipeline never imports a driver.
func (r *run) openSource(ctx context.Context, s *sourceRun) (source.Rows, error) {
	if s.cfg.Table == "" {
		return source.Open(r.proj.Dir, s.cfg)
	}
	tables, ok := r.eng.(source.TableOpener)
	if !ok {
		tables = r.opt.Tables
	}
	if tables == nil {
		return nil, knit.Errorf(knit.EINVALID, "source %q reads the table %s, and nothing here reads PostgreSQL tables: use a PostgreSQL store or run it with knit run", s.cfg.Name, s.cfg.Table)
	}
	return tables.OpenTable(ctx, s.cfg)
}

// sourceLocation names where a source's rows come from, for the report.
func sourceLocation(src *config.Source) string {
	if src.Table != "" {
		return "table " + src.Table
	}
	return src.File
}
