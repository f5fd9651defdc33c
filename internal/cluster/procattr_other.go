//go:build !linux

package cluster

import "syscall"

// procAttr puts a node in its own process group. Without Pdeathsig outside
// Linux, nodes notice odbench's death through --parent-pid; without
// cgroups, odbench cannot shape their network (cgroupFD is ignored).
func procAttr(cgroupFD int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
