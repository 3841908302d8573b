package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// Mechanism-level measures of the mixed mode, which do not depend on how
// noisy the machine's other jobs make the wall clock: how long threads and
// goroutines waited for a CPU during the measured window.

// runDelay is a process's threads' time waiting on a kernel run queue
// (the second field of /proc/<pid>/task/<tid>/schedstat) and their
// number of timeslices, summed over its threads.
type runDelay struct {
	cpu     time.Duration // on a CPU (the first field)
	wait    time.Duration
	slices  int64
	threads int
}

// readRunDelay sums the schedstat of every thread of pid; ok is false
// when /proc does not have it (not Linux, or schedstats off).
func readRunDelay(pid int) (d runDelay, ok bool) {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) < 3 {
			continue
		}
		cpu, _ := strconv.ParseInt(f[0], 10, 64)
		wait, _ := strconv.ParseInt(f[1], 10, 64)
		slices, _ := strconv.ParseInt(f[2], 10, 64)
		d.cpu += time.Duration(cpu)
		d.wait += time.Duration(wait)
		d.slices += slices
		d.threads++
	}
	return d, d.threads > 0
}

// delta says how much CPU the process's threads used per second of the
// window, how long they waited for one (per second and per timeslice);
// threads is the count at the end.
func (d runDelay) delta(before runDelay, secs float64) string {
	c, w, n := d.cpu-before.cpu, d.wait-before.wait, d.slices-before.slices
	return fmt.Sprintf("%.2f CPUs; %.1f ms/s waiting on a run queue over %d timeslices (%.0f µs each), %d threads",
		c.Seconds()/secs, float64(w.Microseconds())/1000/secs, n, float64(w.Microseconds())/float64(max(n, 1)), d.threads)
}

// goSched reads this process's Go scheduling latency histogram (time
// goroutines spent runnable before running; the runtime samples one
// transition in eight).
func goSched() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s[0].Value.Float64Histogram()
}

// schedSummary gives the share of goroutine wakeups in the window (after
// minus before) that waited longer than each bound.
func schedSummary(before, after *metrics.Float64Histogram) string {
	if before == nil || after == nil {
		return "not available"
	}
	bounds := []float64{0.0005, 0.001, 0.002, 0.005}
	over := make([]uint64, len(bounds))
	var n uint64
	for i := range after.Counts {
		c := after.Counts[i] - before.Counts[i]
		n += c
		for j, b := range bounds {
			if after.Buckets[i] >= b { // the whole bucket lies above b
				over[j] += c
			}
		}
	}
	out := fmt.Sprintf("%d sampled goroutine wakeups;", n)
	for j, b := range bounds {
		out += fmt.Sprintf(" %.3f%% waited > %s", 100*float64(over[j])/float64(max(n, 1)), time.Duration(b*1e9))
	}
	return out
}

// cpuTicks is the machine's CPU time from /proc/stat's cpu line, in
// clock ticks: all of it, and what the hypervisor gave other guests
// (steal). On a virtual machine, steal is time the benchmark's threads
// were runnable but no physical CPU ran them: a wait that neither process
// controls, and the usual cause of bursts of slow lookups on this
// machine.
type cpuTicks struct{ total, idle, steal int64 }

func readCPUTicks() (t cpuTicks, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return t, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return t, false
	}
	for i, s := range f[1:] {
		v, _ := strconv.ParseInt(s, 10, 64)
		t.total += v
		switch i {
		case 3, 4: // idle, iowait
			t.idle += v
		case 7:
			t.steal = v
		}
	}
	return t, true
}

// stealSampler records the machine's ticks every 50 ms of the measured
// window, to report the worst second's steal as well as the window's, and
// the short windows in which the hypervisor took a share of the CPUs.
type stealSampler struct {
	samples []tickSample
	stop    chan struct{}
	done    chan struct{}
}

type tickSample struct {
	at time.Time
	cpuTicks
}

// stealEvery is the sampler's period. /proc/stat counts in ticks of 10 ms:
// over 50 ms on 2 CPUs, one tick of steal is 10 % of the CPU time.
const stealEvery = 50 * time.Millisecond

func startStealSampler() *stealSampler {
	s := &stealSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(stealEvery)
		defer t.Stop()
		for {
			if c, ok := readCPUTicks(); ok {
				s.samples = append(s.samples, tickSample{time.Now(), c})
			}
			select {
			case <-t.C:
			case <-s.stop:
				if c, ok := readCPUTicks(); ok {
					s.samples = append(s.samples, tickSample{time.Now(), c})
				}
				return
			}
		}
	}()
	return s
}

// finish stops the sampler; call it once, before report and stolen.
func (s *stealSampler) finish() {
	close(s.stop)
	<-s.done
}

// report says how busy the machine was and how much CPU time the
// hypervisor took, over the window and in its worst second.
func (s *stealSampler) report() string {
	if len(s.samples) < 2 {
		return "not available"
	}
	first, last := s.samples[0], s.samples[len(s.samples)-1]
	total := max(last.total-first.total, 1)
	worst := 0.0
	for i, j := 0, 0; i < len(s.samples); i++ {
		for j < len(s.samples) && s.samples[j].at.Sub(s.samples[i].at) < time.Second {
			j++
		}
		if j == len(s.samples) {
			break
		}
		d := max(s.samples[j].total-s.samples[i].total, 1)
		worst = max(worst, float64(s.samples[j].steal-s.samples[i].steal)/float64(d))
	}
	return fmt.Sprintf("%.0f%% of the CPUs busy; steal (time the hypervisor ran other guests) %.2f%% of CPU time, %.1f%% in the worst second",
		100*float64(total-(last.idle-first.idle))/float64(total), 100*float64(last.steal-first.steal)/float64(total), 100*worst)
}

// stolen returns the sampling periods in which the hypervisor took a
// tick of CPU time or more, as [from, to) pairs in time order.
func (s *stealSampler) stolen() [][2]time.Time {
	var out [][2]time.Time
	for i := 1; i < len(s.samples); i++ {
		if a, b := s.samples[i-1], s.samples[i]; b.steal > a.steal {
			out = append(out, [2]time.Time{a.at, b.at})
		}
	}
	return out
}

// during counts the times (sorted) that fall in one of the periods
// (sorted, not overlapping) or within slack before one starts: a lookup
// sent just before the hypervisor stops its CPU waits out the stop too.
func during(times []time.Time, periods [][2]time.Time, slack time.Duration) int {
	n, p := 0, 0
	for _, t := range times {
		for p < len(periods) && !t.Before(periods[p][1]) {
			p++
		}
		if p < len(periods) && !t.Before(periods[p][0].Add(-slack)) {
			n++
		}
	}
	return n
}
