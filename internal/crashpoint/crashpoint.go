// Package crashpoint names the steps of multi-write work (an exam
// submission, issuing a certificate) at which the crash tests kill the
// real binary. Nothing in the platform sets a hook: Reach costs one
// atomic load.
package crashpoint

import "sync/atomic"

var hook atomic.Pointer[func(step string)]

// Set installs f, called at every step Reach names; a crash test's f
// kills the process at the step it chose. Set(nil) removes it.
func Set(f func(step string)) {
	if f == nil {
		hook.Store(nil)
		return
	}
	hook.Store(&f)
}

// Reach tells the hook, if any, that the work has come to step.
func Reach(step string) {
	if f := hook.Load(); f != nil {
		(*f)(step)
	}
}
