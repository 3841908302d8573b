package config

import (
	"net/url"
	"regexp"
	"strings"
)

// tableName is a table or view a source reads: "name" or "schema.name".
// Restricted to plain identifiers (letters, digits, _ and $, not starting
// with a digit) so that it is only ever spliced into SQL quoted as a name.
var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$`)

// IsPostgresURL reports whether s is a postgres:// or postgresql:// URL.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// checkTableSource validates a source that reads a PostgreSQL table: a
// valid name, a database to read it from (the PostgreSQL store or url),
// and none of the file settings.
func (c *checker) checkTableSource(p string, s *Source) {
	if s.File != "" {
		c.errorf(p+".table", "a source reads a file or a table, not both: remove file or table")
	}
	if !tableName.MatchString(s.Table) {
		c.errorf(p+".table", "%q is not a table name; write name or schema.name (letters, digits, _ and $, starting with a letter or _, at most 63 characters each)", s.Table)
	}
	switch {
	case s.URL != "":
		c.checkSourceURL(p+".url", s.URL)
	case !IsPostgresURL(c.cfg.Store):
		c.errorf(p+".table", "a table source reads from the PostgreSQL store, and this project's store is a DuckDB file (%s); set store: postgres://… or give the database of the table as url: postgres://user@host:5432/database", c.cfg.Store)
	}
	if s.Format != "" {
		c.errorf(p+".format", "applies to files only; a table's columns are typed by columns: as for files")
	}
	if c.present(p + ".csv") {
		c.errorf(p+".csv", "csv options apply to files only")
	}
	if s.JSON != "" && (!tableName.MatchString(s.JSON) || strings.Contains(s.JSON, ".")) {
		c.errorf(p+".json", "%q is not a column name; name the column that holds one JSON object per row", s.JSON)
	}
}

// checkSourceURL validates the database URL of a table source: no
// password (knit.yaml is usually committed), a database named.
func (c *checker) checkSourceURL(p, raw string) {
	if !IsPostgresURL(raw) {
		c.errorf(p, "%q is not a PostgreSQL URL; write postgres://user@host:5432/database", raw)
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		c.errorf(p, "not a valid URL (%v); write postgres://user@host:5432/database", err)
		return
	}
	if _, ok := u.User.Password(); ok || u.Query().Get("password") != "" {
		c.errorf(p, "the URL holds a password; remove it and set PGPASSWORD in the environment or use ~/.pgpass")
	}
	if u.Path == "" || u.Path == "/" {
		c.errorf(p, "the URL names no database; write postgres://user@host:5432/database")
	}
}
