package org

// SetMoveChecked makes d call f between a move's check and its write.
func SetMoveChecked(d *Directory, f func()) { d.moveChecked = f }
