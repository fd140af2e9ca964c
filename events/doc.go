// Package events defines what the write side records and the read side consumes:
// the envelope every stored event travels in, the commit that groups the events of
// one command, the domain event types, and the registry that maps a stored type name
// back to its Go type.
//
// An event, once stored, is never changed or deleted. Old schema versions are read
// through upcasters registered next to the type; a newer schema version than this
// binary knows, or an unknown type name, is an error that names it, never a silent
// skip.
//
// This package imports nothing of ours: every other layer depends on it.
package events
