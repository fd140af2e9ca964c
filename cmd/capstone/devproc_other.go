//go:build !linux

package main

import "syscall"

// childProcAttr puts a child of `capstone dev` in a process group of its own
// (a terminal's Ctrl-C reaches only the parent, which stops the children in
// order). Only Linux can also have a child killed when its parent is killed
// with SIGKILL; elsewhere stop `capstone dev` with Ctrl-C or SIGTERM.
func childProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
