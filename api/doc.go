// Package api is the HTTP layer: it decodes and validates requests,
// authenticates the caller, turns a request into a command or a query, and
// maps the result or error to a response (problem+json for errors, with a
// stable code). No business rule lives here.
package api
