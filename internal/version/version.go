// Package version holds protoql's release version: the one constant that
// `protoql --version`, `protoc-gen-protoql --version`, the header of every
// generated file and runtime.Version report. Bump it, and add a
// CHANGELOG.md entry, when tagging a release.
package version

// Version is the release of the protoql module, a semantic version with a
// leading "v", as the module's git tag spells it.
const Version = "v0.1.0"
