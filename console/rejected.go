package console

import (
	"database/sql"
	"net/http"
	"strconv"

	"github.com/knit-cdp/knit"
)

func init() {
	register(Page{Pattern: "GET /console/unify/rejected", Handle: (*Console).rejected})
}

// rejectedPage is how many rejected rows one page shows.
const rejectedPage = 50

// rejectedView pages through the rows the last run rejected, with the
// file, line, column and reason of each, and the raw text as read.
type rejectedView struct {
	Source  string
	Sources []string
	Page    int
	Total   int64
	Rows    []rejectedRow
}

type rejectedRow struct {
	Run            int64
	Source, File   string
	Line           int64
	Column, Reason string
	Raw            string
}

// Pages is the number of pages.
func (v rejectedView) Pages() int64 { return max(1, (v.Total+rejectedPage-1)/rejectedPage) }

// Prev and Next are the neighbouring page numbers (0: none).
func (v rejectedView) Prev() int {
	if v.Page > 1 {
		return v.Page - 1
	}
	return 0
}

func (v rejectedView) Next() int {
	if int64(v.Page) < v.Pages() {
		return v.Page + 1
	}
	return 0
}

func (c *Console) rejected(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	v := rejectedView{Source: q.Get("source"), Page: 1, Sources: c.proj.Config.SourceOrder}
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 1_000_000 {
			return knit.Errorf(knit.EINVALID, "page %q: give a page number from 1", p)
		}
		v.Page = n
	}
	if v.Source != "" {
		if _, ok := c.proj.Config.Sources[v.Source]; !ok {
			return knit.Errorf(knit.ENOTFOUND, "no source %q in this project", v.Source)
		}
	}
	if ok, err := c.hasTable(ctx, "rejected"); err != nil {
		return err
	} else if ok {
		where, args := "", []any{}
		if v.Source != "" {
			where, args = " WHERE source = ?", []any{v.Source}
		}
		err := c.each(ctx, `SELECT count(*) FROM rejected`+where, args, func(rows *sql.Rows) error { return rows.Scan(&v.Total) })
		if err != nil {
			return err
		}
		err = c.each(ctx, `SELECT run_id, source, file, line, column_name, reason, raw FROM rejected`+where+
			` ORDER BY source, file, line, column_name LIMIT ? OFFSET ?`, append(args, rejectedPage, (v.Page-1)*rejectedPage),
			func(rows *sql.Rows) error {
				var row rejectedRow
				var col, raw sql.NullString
				err := rows.Scan(&row.Run, &row.Source, &row.File, &row.Line, &col, &row.Reason, &raw)
				row.Column, row.Raw = col.String, raw.String
				v.Rows = append(v.Rows, row)
				return err
			})
		if err != nil {
			return err
		}
	}
	return c.render(w, r, "rejected.html", View{Title: "Rejected rows", Nav: "unify", Data: v})
}
