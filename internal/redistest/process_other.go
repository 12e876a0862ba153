//go:build !linux

package redistest

import "os/exec"

// startProcess starts cmd; it outlives a test binary that is killed.
func startProcess(cmd *exec.Cmd) error { return cmd.Start() }

// processGone says no: the directories of killed test binaries stay.
func processGone(int) bool { return false }
