package export

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/knit-cdp/knit/config"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the request
// body under the export's secret. A receiver recomputes it to know the
// batch came from knit and was not altered.
const SignatureHeader = "X-Knit-Signature"

// Sign returns the signature header value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Batch is the JSON body of one webhook request.
type Batch struct {
	Export  string           `json:"export"`
	Segment string           `json:"segment,omitempty"`
	RunID   int64            `json:"run_id"`
	Batch   int              `json:"batch"` // 1-based
	Rows    []map[string]any `json:"rows"`
}

// sendWebhook posts the selection in batches. A batch is retried on a
// network error, 429 or 5xx, after a delay that doubles each time; a batch
// that still fails (or gets another 4xx) is appended to the dead-letter
// file, and the export is reported failed once every batch was tried.
func (env *Env) sendWebhook(ctx context.Context, x *config.Export, sel *selection, res *Result) error {
	url := expand(x.URL)
	secret := []byte(expand(x.Secret))
	backoff, err := time.ParseDuration(x.Backoff)
	if err != nil {
		return err
	}
	client := env.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	res.Location = url
	var batch []map[string]any
	n, failed := 0, 0
	var lastErr error
	deadPath := filepath.Join(env.Proj.Dir, "exports", x.Name, "dead-letter", RunFolder(env.Now, env.RunID)+".ndjson")
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n++
		body, err := json.Marshal(Batch{Export: x.Name, Segment: x.Segment, RunID: env.RunID, Batch: n, Rows: batch})
		if err != nil {
			return err
		}
		batch = batch[:0]
		if err := env.post(ctx, client, url, secret, body, x.Retries, backoff); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failed++
			lastErr = err
			if derr := appendLine(deadPath, body); derr != nil {
				return fmt.Errorf("batch %d failed (%v) and the dead-letter file could not be written: %w", n, err, derr)
			}
			res.DeadLetter = deadPath
		}
		return nil
	}
	names := make([]string, len(sel.cols))
	for i, c := range sel.cols {
		names[i] = c.Name
	}
	err = env.each(ctx, sel, func(row []any) error {
		res.count(sel, row)
		obj := make(map[string]any, len(row))
		for i, v := range row {
			obj[names[i]] = jsonValue(v)
		}
		batch = append(batch, obj)
		if len(batch) >= x.BatchSize {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d batches failed after %d attempts each (last: %v); they are in %s", failed, n, x.Retries+1, lastErr, deadPath)
	}
	return nil
}

func (env *Env) post(ctx context.Context, client *http.Client, url string, secret, body []byte, retries int, backoff time.Duration) error {
	sleep := env.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	var last error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, backoff<<(attempt-1)); err != nil {
				return err
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		if len(secret) > 0 {
			req.Header.Set(SignatureHeader, Sign(secret, body))
		}
		resp, err := client.Do(req)
		if err != nil {
			last = err
			continue
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode < 300 {
			return nil
		}
		last = fmt.Errorf("%s answered %s: %s", url, resp.Status, bytes.TrimSpace(msg))
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
			return last // the request itself is wrong: retrying cannot help
		}
	}
	return last
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func appendLine(path string, line []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
