"""``kale-argo completion bash|zsh|fish``: a shell completion script, generated from the parser
(subcommands, their flags, and the choices of flags that have them)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import add_parser

SHELLS = ("bash", "zsh", "fish")


def register(subparsers: Any) -> None:
    """Add the ``completion`` subcommand."""
    parser = add_parser(
        subparsers, "completion", help="print a shell completion script (bash, zsh or fish)",
        description="Print the completion script for SHELL, to source from your shell's startup file.",
        examples=['source <(kale-argo completion bash)        # in ~/.bashrc',
                  'source <(kale-argo completion zsh)         # in ~/.zshrc',
                  'kale-argo completion fish > ~/.config/fish/completions/kale-argo.fish'])
    parser.add_argument("shell", choices=SHELLS)
    parser.set_defaults(handler=handle)


def commands(parser: argparse.ArgumentParser) -> dict[str, tuple[list[str], dict[str, list[str]]]]:
    """subcommand -> (its flags, flag -> choices)."""
    result: dict[str, tuple[list[str], dict[str, list[str]]]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                flags: list[str] = []
                choices: dict[str, list[str]] = {}
                for a in sub._actions:
                    flags += [f for f in a.option_strings if f.startswith("--") or len(f) == 2]
                    if a.option_strings and a.choices:
                        for f in a.option_strings:
                            choices[f] = [str(c) for c in a.choices]
                    elif not a.option_strings and a.choices and a.dest == "shell":
                        choices[""] = [str(c) for c in a.choices]
                result[name] = (flags, choices)
    return result


def bash(cmds: dict[str, tuple[list[str], dict[str, list[str]]]]) -> str:
    cases = []
    for name, (flags, choices) in cmds.items():
        prev = "".join(f'            {f}) COMPREPLY=($(compgen -W "{" ".join(c)}" -- "$cur")); return;;\n'
                       for f, c in choices.items() if f)
        cases.append(f'        {name})\n          case "$prev" in\n{prev}          esac\n'
                     f'          COMPREPLY=($(compgen -W "{" ".join(flags)}" -- "$cur"))\n'
                     '          [[ "$cur" != -* ]] && COMPREPLY+=($(compgen -f -- "$cur"));;\n')
    names = " ".join(cmds)
    return f"""# kale-argo bash completion: source <(kale-argo completion bash)
_kale_argo() {{
    local cur prev cmd i
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    cmd=""
    for ((i=1; i<COMP_CWORD; i++)); do
        case " {names} " in *" ${{COMP_WORDS[i]}} "*) cmd="${{COMP_WORDS[i]}}"; break;; esac
    done
    if [[ -z "$cmd" ]]; then
        COMPREPLY=($(compgen -W "{names} --help --version --debug -n --namespace -q -v" -- "$cur"))
        return
    fi
    case "$cmd" in
{"".join(cases)}    esac
}}
complete -o default -F _kale_argo kale-argo
"""


def zsh(cmds: dict[str, tuple[list[str], dict[str, list[str]]]]) -> str:
    return "#compdef kale-argo\n# kale-argo zsh completion: source <(kale-argo completion zsh)\n" \
           "autoload -U +X bashcompinit && bashcompinit\n" + bash(cmds)


def fish(cmds: dict[str, tuple[list[str], dict[str, list[str]]]], helps: dict[str, str]) -> str:
    lines = ["# kale-argo fish completion:",
             "#   kale-argo completion fish > ~/.config/fish/completions/kale-argo.fish",
             "complete -c kale-argo -f"]
    names = " ".join(cmds)
    for name in cmds:
        desc = helps.get(name, "").replace("'", "")
        lines.append(f"complete -c kale-argo -n 'not __fish_seen_subcommand_from {names}' -a {name} "
                     f"-d '{desc}'")
    for name, (flags, choices) in cmds.items():
        for f in dict.fromkeys(flags):
            option = f"-l {f[2:]}" if f.startswith("--") else f"-s {f[1:]}"
            values = choices.get(f)
            extra = f" -x -a '{' '.join(values)}'" if values else ""
            lines.append(f"complete -c kale-argo -n '__fish_seen_subcommand_from {name}' {option}{extra}")
        if "" in choices:
            lines.append(f"complete -c kale-argo -n '__fish_seen_subcommand_from {name}' "
                         f"-a '{' '.join(choices[''])}'")
    return "\n".join(lines) + "\n"


def handle(args: argparse.Namespace) -> int:
    """Print the script."""
    from .main import build_parser

    parser = build_parser()
    cmds = commands(parser)
    helps: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {c.dest: c.help or "" for c in action._choices_actions}
    text = {"bash": lambda: bash(cmds), "zsh": lambda: zsh(cmds),
            "fish": lambda: fish(cmds, helps)}[args.shell]()
    sys.stdout.write(text)
    return 0
