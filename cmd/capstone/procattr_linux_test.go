package main

import "syscall"

// dieWithParent makes a child process get SIGKILL when the test binary dies
// (a test timeout panics past every cleanup), so no server is left running.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
