from account_node.cli import main

main(prog_name="trustdesk")
