// Entry points of the pmdb subcommands. Each takes the arguments after its name.
#ifndef PMDB_TOOLS_PMDB_COMMANDS_H_
#define PMDB_TOOLS_PMDB_COMMANDS_H_

namespace pmdb::cli {

int RunIngest(int argc, char** argv);
int RunQuery(int argc, char** argv);
int RunConsent(int argc, char** argv);
int RunInfo(int argc, char** argv);
int RunGenerate(int argc, char** argv);
int RunCa(int argc, char** argv);
int RunNode(int argc, char** argv);
int RunHub(int argc, char** argv);
int RunAudit(int argc, char** argv);
int RunSimilar(int argc, char** argv);
int RunCatalogue(int argc, char** argv);
int RunContact(int argc, char** argv);
int RunBackup(int argc, char** argv);
int RunRestore(int argc, char** argv);
int RunShard(int argc, char** argv);

}  // namespace pmdb::cli

#endif  // PMDB_TOOLS_PMDB_COMMANDS_H_
