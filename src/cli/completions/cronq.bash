
# Job names and run ids, from `cronq complete`, with the settings flags of the line.
_cronq_names() {
    local what=$1 i settings=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            --settings|--schedule|--store|--redis-prefix|--state-dir)
                settings+=("${COMP_WORDS[i]}" "${COMP_WORDS[i+1]}") ;;
        esac
    done
    "${COMP_WORDS[0]}" complete "$what" "${settings[@]}" 2>/dev/null
}

_cronq_dynamic() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local sub="" at=0 i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            run|rerun|backfill|show|logs|cancel|next|history) sub="${COMP_WORDS[i]}"; at=$i; break ;;
        esac
    done
    local what=""
    if [[ $prev == --job && ( $sub == next || $sub == history ) ]]; then
        what=jobs
    elif [[ -n $sub && $cur != -* ]]; then
        # Only the first argument after the subcommand names a job or a run.
        local positional=0
        for ((i = at + 1; i < COMP_CWORD; i++)); do
            case "${COMP_WORDS[i]}" in
                --settings|--schedule|--store|--redis-prefix|--state-dir|--env) ((i++)) ;;
                -*) ;;
                *) ((positional++)) ;;
            esac
        done
        if ((positional == 0)) && [[ ! $prev =~ ^--(settings|schedule|store|redis-prefix|state-dir|env)$ ]]; then
            case "$sub" in
                run) what=jobs ;;
                show|logs) what="runs jobs" ;;
                cancel|rerun) what=runs ;;
                backfill) what=jobs ;;
            esac
        fi
    fi
    if [[ -n $what ]]; then
        local names="" kind
        for kind in $what; do
            names+="$(_cronq_names "$kind")"$'\n'
        done
        local IFS=$'\n'
        COMPREPLY=($(compgen -W "$names" -- "$cur"))
        return 0
    fi
    _cronq "$@"
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _cronq_dynamic -o nosort -o bashdefault -o default cronq
else
    complete -F _cronq_dynamic -o bashdefault -o default cronq
fi
