//go:build linux

package server

import "syscall"

const lowPriorityThreads = true

// lowerThreadPriority raises the calling thread's nice value by nice (to
// at most 19). On Linux, setpriority with PRIO_PROCESS and a thread ID
// applies to that thread alone (setpriority(2), "BUGS"); raising a nice
// value needs no privilege.
func lowerThreadPriority(nice int) error {
	tid := syscall.Gettid()
	cur, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		return err
	}
	// The raw system call returns 20 - nice (getpriority(2), "C library/
	// kernel differences"); package syscall does not convert it.
	return syscall.Setpriority(syscall.PRIO_PROCESS, tid, min(20-cur+nice, 19))
}
