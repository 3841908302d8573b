package pipeline

import (
	"context"

	"github.com/knit-cdp/knit/engine"
)

// bulk feeds rows to engine.Load on a goroutine of its own, in batches, so
// producing rows (parsing, building the graph) and appending them (mostly
// the engine's own work) run on both cores.
type bulk struct {
	batches chan [][]any
	done    chan error
	batch   [][]any
	ctx     context.Context
	cancel  context.CancelFunc
	err     error
}

const bulkBatch = 2048

// bulkQueue is how many batches a producer may run ahead of the engine:
// about half a million rows, a few hundred megabytes at most. The load
// stage reads and parses faster than the engine appends the raw tables,
// and the stages after it leave a core free for the appends to finish on.
const bulkQueue = 256

func startBulk(ctx context.Context, eng engine.Engine, table string, cols []engine.Column) *bulk {
	ctx, cancel := context.WithCancel(ctx)
	b := &bulk{batches: make(chan [][]any, bulkQueue), done: make(chan error, 1), ctx: ctx, cancel: cancel}
	go func() {
		var cur [][]any
		i := 0
		_, err := eng.Load(ctx, table, cols, func(out []any) (bool, error) {
			if i == len(cur) {
				select {
				case next, ok := <-b.batches:
					if !ok {
						return false, nil
					}
					cur, i = next, 0
				case <-ctx.Done():
					return false, ctx.Err()
				}
			}
			copy(out, cur[i])
			i++
			return true, nil
		})
		if err != nil {
			cancel() // stop the producer; it drains nothing more
		}
		b.done <- err
	}()
	return b
}

// add queues one row; the slice must not be reused by the caller.
func (b *bulk) add(row []any) error {
	b.batch = append(b.batch, row)
	if len(b.batch) < bulkBatch {
		return nil
	}
	return b.flush()
}

func (b *bulk) flush() error {
	select {
	case b.batches <- b.batch:
		b.batch = make([][]any, 0, bulkBatch)
		return nil
	case <-b.ctx.Done():
		return b.wait()
	}
}

func (b *bulk) wait() error {
	if b.err == nil {
		b.err = <-b.done
		if b.err == nil {
			b.err = b.ctx.Err()
		}
	}
	return b.err
}

// close sends what is queued and waits for the engine to finish.
func (b *bulk) close() error {
	defer b.cancel()
	if len(b.batch) > 0 {
		if err := b.flush(); err != nil {
			return err
		}
	}
	close(b.batches)
	err := <-b.done
	b.err = err
	return err
}

// abort stops loading; the staged table is dropped with the failed run.
func (b *bulk) abort() {
	b.cancel()
	close(b.batches)
	if b.err == nil { // wait has not taken the loader's result yet
		<-b.done
	}
}
