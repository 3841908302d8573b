package server

import (
	"runtime"
	"sync"
)

// workPool runs the CPU-heavy part of ingestion — parsing a collection
// body and stitching its events into the live graph — on a fixed number of
// worker goroutines, each locked to an OS thread whose scheduling priority
// is lowered when asked and the platform allows (workpool_linux.go).
// Profile lookups stay on net/http's own goroutines at normal priority.
//
// The idea: on a small machine, a lookup is answered in microseconds once
// it runs, but it waits whenever every core is busy stitching a batch.
// With the heavy work on fewer goroutines than Ps, and on threads the
// kernel preempts first, a lookup should find a P and a core at once while
// ingestion still gets every cycle nobody else wants (docs/serve.md
// "Ingestion workers"). The catch: a thread the kernel deschedules keeps
// its P.
//
// Jobs wait in a bounded queue: try refuses when it is full (the server
// answers 429), run always waits (for work that must not be dropped, such
// as stitching events already stored).
//
// The pool is opt-in (Options.IngestWorkers): measured on the shared
// 2-core machine it did not lower the lookup tail (docs/BENCHMARKS.md,
// issue 5). A nil pool runs every job on the caller's goroutine.
type workPool struct {
	jobs chan *job
	quit chan struct{}
	once sync.Once // closes quit
	wg   sync.WaitGroup
	// lowered reports whether the workers' threads run at a lower
	// priority (false where the platform has no per-thread priority).
	lowered bool
}

type job struct {
	f    func()
	done chan any // the panic value of f, or nil
}

var jobs = sync.Pool{New: func() any { return &job{done: make(chan any, 1)} }}

// newWorkPool starts workers goroutines (at least one) with room for
// queue waiting jobs; nice > 0 lowers their threads' priority by that
// much (Linux nice values; ignored elsewhere).
func newWorkPool(workers, queue, nice int) *workPool {
	p := &workPool{jobs: make(chan *job, max(queue, 0)), quit: make(chan struct{})}
	lowered := make(chan bool, max(workers, 1))
	for range max(workers, 1) {
		p.wg.Add(1)
		go p.work(nice, lowered)
	}
	p.lowered = true
	for range max(workers, 1) {
		p.lowered = <-lowered && p.lowered
	}
	return p
}

func (p *workPool) work(nice int, lowered chan<- bool) {
	defer p.wg.Done()
	// Never unlocked: when the worker returns, its thread (with the
	// lowered priority) exits instead of going back to run other
	// goroutines. Threads the runtime starts from a locked thread are
	// cloned from a clean template thread, so the priority spreads to
	// no other goroutine.
	runtime.LockOSThread()
	lowered <- nice > 0 && lowerThreadPriority(nice) == nil
	for {
		select {
		case j := <-p.jobs:
			j.done <- call(j.f)
		case <-p.quit:
			return
		}
	}
}

// call runs f and returns what it panicked with, so the panic is raised
// again on the request's goroutine (where net/http recovers it) instead of
// ending the process.
func call(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// try runs f on a worker and waits for it, or reports false at once when
// the queue is full or the pool is closed.
func (p *workPool) try(f func()) bool {
	if p == nil {
		f()
		return true
	}
	select {
	case <-p.quit:
		return false
	default:
	}
	j := jobs.Get().(*job)
	j.f = f
	select {
	case p.jobs <- j:
	default:
		j.f = nil
		jobs.Put(j)
		return false
	}
	p.wait(j)
	return true
}

// run runs f on a worker and waits for it, waiting for room in the queue
// if need be. After close it runs f on the caller's goroutine.
func (p *workPool) run(f func()) {
	if p == nil {
		f()
		return
	}
	j := jobs.Get().(*job)
	j.f = f
	select {
	case p.jobs <- j:
		p.wait(j)
	case <-p.quit:
		j.f = nil
		jobs.Put(j)
		f()
	}
}

func (p *workPool) wait(j *job) {
	v := <-j.done
	j.f = nil
	jobs.Put(j)
	if v != nil {
		panic(v)
	}
}

// close stops the workers once they finish their current job; jobs
// still queued then run on the goroutine that closes. The server closes
// the pool after the HTTP server has drained its requests. Closing twice
// is harmless.
func (p *workPool) close() {
	if p == nil {
		return
	}
	p.once.Do(func() { close(p.quit) })
	p.wg.Wait()
	for {
		select {
		case j := <-p.jobs:
			j.done <- call(j.f)
		default:
			return
		}
	}
}
