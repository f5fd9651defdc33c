package cluster

import "syscall"

// procAttr puts a node in its own process group (so Stop can kill the
// group) and has the kernel SIGKILL it when odbench dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
