"""The fluxtrust Pulumi program: `pulumi up` runs this file from the project directory."""

from fluxtrust.program import main

main()
