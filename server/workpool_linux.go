//go:build linux

package server

import "syscall"

// lowerThreadPriority raises the calling thread's nice value by nice. On
// Linux, setpriority with PRIO_PROCESS and a thread ID applies to that
// thread alone (setpriority(2), "BUGS"): the rest of the process keeps
// its priority. Raising a nice value needs no privilege.
func lowerThreadPriority(nice int) error {
	tid := syscall.Gettid()
	cur, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		return err
	}
	// The raw syscall returns 20 - nice (getpriority(2), "C library/
	// kernel differences"); syscall.Getpriority does not convert it.
	return syscall.Setpriority(syscall.PRIO_PROCESS, tid, min(20-cur+nice, 19))
}
