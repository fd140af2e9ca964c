package main

import "syscall"

// childProcAttr puts a child of `capstone dev` in a process group of its own
// (a terminal's Ctrl-C reaches only the parent, which stops the children in
// order) and has the kernel kill it if the parent dies, even by kill -9.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
