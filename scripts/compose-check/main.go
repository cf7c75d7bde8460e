// compose-check loads Compose files the way `docker compose config` does, with the Compose
// specification's own loader (github.com/compose-spec/compose-go): variable interpolation
// (including `${VAR:?message}` required variables), validation against the Compose JSON schema,
// and normalization. It prints the resolved project as JSON on stdout, or the loader's error on
// stderr with exit status 1. Foreman's tests use it to validate docker-compose.yml without Docker
// (test/support/compose-check.ts builds it).
//
// Usage: compose-check FILE [FILE...]   (later files override earlier ones, as with -f)
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-check FILE [FILE...]")
		os.Exit(2)
	}
	opts, err := cli.NewProjectOptions(os.Args[1:], cli.WithOsEnv, cli.WithName("foreman"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
