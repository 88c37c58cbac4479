package localapi

import "syscall"

// sysProcAttr puts the emulator in its own process group (so stop reaches the
// runtime it starts) and kills it if this process dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
