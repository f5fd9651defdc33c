package cluster

import "syscall"

// procAttr puts a node in its own process group (so Stop can kill the
// group) and has the kernel SIGKILL it when odbench dies. With a cgroup
// directory's fd (>= 0) the node starts in that cgroup (clone3's
// CLONE_INTO_CGROUP): every socket it opens belongs to it from the first.
func procAttr(cgroupFD int) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if cgroupFD >= 0 {
		a.UseCgroupFD, a.CgroupFD = true, cgroupFD
	}
	return a
}
