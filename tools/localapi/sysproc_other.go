//go:build !linux

package localapi

import "syscall"

// sysProcAttr puts the emulator in its own process group, so stop reaches
// the runtime it starts.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
