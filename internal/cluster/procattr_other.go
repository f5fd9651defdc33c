//go:build !linux

package cluster

import "syscall"

// procAttr puts a node in its own process group. Without Pdeathsig outside
// Linux, nodes notice odbench's death through --parent-pid.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
