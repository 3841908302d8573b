package server

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// lowPrio runs ingestion's CPU work — parsing a collection body and
// stitching its stored events into the live graph — on a few goroutines,
// each locked to its own OS thread at nice 19 (lowprio_linux.go), so that
// whenever a profile lookup's thread (nice 0) wants a core the kernel runs
// it first and ingestion takes the cycles left over. The request's
// goroutine reads the body, waits for the durable write (little CPU) and
// answers; it hands the two CPU-heavy steps to a worker and waits for
// each. Acknowledgement still comes only after the events are stored and
// stitched.
//
// A worker holds one of the Go scheduler's Ps while it runs, also while
// the kernel keeps it off the core; knit serve therefore adds one P per
// worker (cmd/knit, serveIngestThreads), so lookups always find a P.
// Measured on 2 cores with the load generator on the same machine: the
// server's goroutines waited over 1 ms for a CPU several times less often
// under 10,000 events/s of ingestion; without the extra Ps the lookup tail
// grew (docs/BENCHMARKS.md, issue 5).
//
// A nil *lowPrio runs every job on the caller's goroutine (ingestion at
// normal priority: turned off, or no per-thread priority here).
type lowPrio struct {
	jobs chan *job
	quit chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	nice int          // the workers' threads' nice value is raised by this much
	ran  atomic.Int64 // jobs run on the workers (tests)
}

type job struct {
	f    func()
	done chan any // what f panicked with, or nil
}

var jobPool = sync.Pool{New: func() any { return &job{done: make(chan any, 1)} }}

// LowPriorityThreads reports whether this platform can lower one thread's
// priority (Linux); elsewhere ingestion runs at normal priority.
const LowPriorityThreads = lowPriorityThreads

// ingestNice is how far the workers' nice value is raised (to at most 19,
// the lowest priority an unprivileged process can give).
const ingestNice = 19

// newLowPrio starts workers goroutines on threads whose nice value is
// raised by nice. It returns nil, and an error, when the priority cannot
// be lowered.
func newLowPrio(workers, nice int) (*lowPrio, error) {
	p := &lowPrio{jobs: make(chan *job), quit: make(chan struct{}), nice: nice}
	errs := make(chan error, workers)
	for range workers {
		p.wg.Add(1)
		go p.work(errs)
	}
	var first error
	for range workers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		p.close()
		return nil, first
	}
	return p, nil
}

func (p *lowPrio) work(errs chan<- error) {
	defer p.wg.Done()
	// Never unlocked: when the worker returns, its thread (with the raised
	// nice value) exits instead of running other goroutines. The runtime
	// starts new threads from a template thread, not from this one, so the
	// priority spreads to no other goroutine.
	runtime.LockOSThread()
	err := lowerThreadPriority(p.nice)
	errs <- err
	if err != nil {
		return
	}
	for {
		select {
		case j := <-p.jobs:
			p.ran.Add(1)
			j.done <- call(j.f)
		case <-p.quit:
			return
		}
	}
}

// call runs f and returns what it panicked with, so that the panic is
// raised again on the request's goroutine (where net/http recovers it)
// instead of ending the process.
func call(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// run runs f on a worker and waits for it; after close (or with a nil
// pool) it runs f on the caller's goroutine.
func (p *lowPrio) run(f func()) {
	if p == nil {
		f()
		return
	}
	j := jobPool.Get().(*job)
	j.f = f
	select {
	case p.jobs <- j:
	case <-p.quit:
		j.f = nil
		jobPool.Put(j)
		f()
		return
	}
	v := <-j.done
	j.f = nil
	jobPool.Put(j)
	if v != nil {
		panic(v)
	}
}

// close stops the workers after their current jobs; later jobs run on
// their callers' goroutines. Closing twice is harmless.
func (p *lowPrio) close() {
	if p == nil {
		return
	}
	p.once.Do(func() { close(p.quit) })
	p.wg.Wait()
}
