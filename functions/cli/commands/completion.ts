/**
 * `relay completion bash|zsh`: a completion script made from the command tree itself, so a new
 * command or option completes without editing it. Words complete per command path (`relay dlq re`
 * → `requeue`); anything else falls back to file names (job files).
 */
import { Argument, type Command } from 'commander';
import { examples } from '../context.ts';

export function addCompletionCommand(cli: Command): void {
  examples(
    cli
      .command('completion')
      .description('print a shell completion script')
      .addArgument(new Argument('<shell>', 'the shell to complete in').choices(['bash', 'zsh']))
      .action((shell: 'bash' | 'zsh') => {
        process.stdout.write(shell === 'bash' ? bashScript(cli) : zshScript(cli));
      }),
    'source <(relay completion bash)        # in ~/.bashrc',
    'relay completion zsh > ~/.zfunc/_relay   # with fpath+=(~/.zfunc) in ~/.zshrc',
  );
}

/** Each command path (`''`, `'dlq'`, `'dlq list'`…) and the words that may follow it. */
function paths(command: Command, globals: readonly string[], prefix = ''): [string, string[]][] {
  const options = command.options.flatMap((option) => (option.long ? [option.long] : []));
  const words = [...command.commands.map((sub) => sub.name()), ...options, ...globals, '--help'];
  const here: [string, string[]] = [prefix, [...new Set(words)]];
  return [
    here,
    ...command.commands.flatMap((sub) =>
      paths(sub, globals, prefix ? `${prefix} ${sub.name()}` : sub.name()),
    ),
  ];
}

function bashScript(cli: Command): string {
  const globals = cli.options.flatMap((option) => (option.long ? [option.long] : []));
  const cases = paths(cli, globals)
    .map(([path, words]) => `    '${path}') echo '${words.join(' ')}' ;;`)
    .join('\n');
  return `# relay completion for bash: source <(relay completion bash)
_relay_words() {
  case "$1" in
${cases}
  esac
}
_relay() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" word i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    [[ $word == -* ]] && continue
    case " $(_relay_words "$path") " in
      *" $word "*) path="\${path:+$path }$word" ;;
    esac
  done
  COMPREPLY=($(compgen -W "$(_relay_words "$path")" -- "$cur"))
}
complete -o default -F _relay relay
`;
}

/** zsh runs the bash script through its bash completion layer. */
const zshScript = (cli: Command): string =>
  `#compdef relay\nautoload -U +X bashcompinit && bashcompinit\n${bashScript(cli)}`;
